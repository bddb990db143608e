"""The environment contract (DESIGN.md): the only variables the trainer reads.

A pod's process reads the launcher's contract. When the gang spans processes, that process is torch's
elastic agent (trainer/agent.py), and the workers it starts read torch's own worker variables as well: the
rendezvous, not the completion index, decides their ranks (TORCHELASTIC_RUN_ID, RANK, GROUP_RANK, ...).
"""

import os
from dataclasses import dataclass

from launcher.schema import contract as c

ELASTIC_WORKER = "TORCHELASTIC_RUN_ID"  # set by torch's agent in every worker it starts


@dataclass(frozen=True)
class Cluster:
    """Where this process sits in the gang, and where the run's files go."""

    node_rank: int
    nnodes: int
    nproc_per_node: int
    master_addr: str
    master_port: int
    run_id: str
    checkpoint_uri: str
    rank: int = 0  # global rank
    elastic_worker: bool = False  # started by the elastic agent

    @classmethod
    def from_env(cls, environ=os.environ) -> "Cluster":
        """Read the contract; a single-process run on a laptop needs only RUN_ID and CHECKPOINT_URI."""
        worker = ELASTIC_WORKER in environ
        node_rank = int(environ.get("GROUP_RANK" if worker else c.ENV_NODE_RANK, 0))
        nproc = int(environ.get(c.ENV_NPROC_PER_NODE, 1))
        local_rank = int(environ.get("LOCAL_RANK", 0))
        return cls(
            node_rank=node_rank,
            nnodes=int(environ.get(c.ENV_NNODES, 1)),
            nproc_per_node=nproc,
            master_addr=environ.get(c.ENV_MASTER_ADDR, "127.0.0.1"),
            master_port=int(environ.get(c.ENV_MASTER_PORT, 29500)),
            run_id=environ.get(c.ENV_RUN_ID, "local"),
            checkpoint_uri=environ.get(c.ENV_CHECKPOINT_URI, "runs"),
            rank=int(environ["RANK"]) if worker else node_rank * nproc + local_rank,
            elastic_worker=worker,
        )

    @property
    def world_size(self) -> int:
        return self.nnodes * self.nproc_per_node

    @property
    def needs_agent(self) -> bool:
        """A gang of more than one process forms through the elastic agent; a lone process just trains."""
        return self.world_size > 1 and not self.elastic_worker
