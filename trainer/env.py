"""The environment contract (DESIGN.md): the only variables the trainer reads."""

import os
from dataclasses import dataclass

from launcher.schema import contract as c


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

    @classmethod
    def from_env(cls, environ=os.environ) -> "Cluster":
        """Read the contract; a single-process run on a laptop needs only RUN_ID and CHECKPOINT_URI."""
        return cls(
            node_rank=int(environ.get(c.ENV_NODE_RANK, 0)),
            nnodes=int(environ.get(c.ENV_NNODES, 1)),
            nproc_per_node=int(environ.get(c.ENV_NPROC_PER_NODE, 1)),
            master_addr=environ.get(c.ENV_MASTER_ADDR, "127.0.0.1"),
            master_port=int(environ.get(c.ENV_MASTER_PORT, 29500)),
            run_id=environ.get(c.ENV_RUN_ID, "local"),
            checkpoint_uri=environ.get(c.ENV_CHECKPOINT_URI, "runs"),
        )

    @property
    def world_size(self) -> int:
        return self.nnodes * self.nproc_per_node
