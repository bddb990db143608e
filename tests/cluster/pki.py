"""Credentials of the test control plane: a ServiceAccount signing key and static bearer tokens.

The apiserver generates its own serving certificate (--cert-dir); everything here is what it cannot.
"""

import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# user -> groups. Controllers get the identities the RBAC bootstrap policy grants their permissions to;
# kwok acts as every kubelet at once, so it is an admin (system:node would tie it to a single node).
USERS = {
    "admin": ["system:masters"],
    "system:kube-controller-manager": [],
    "system:kube-scheduler": [],
    "kwok": ["system:masters"],
    # The real node's kubelet (realnode.py), as a kubelet registers: the Node authorizer and NodeRestriction
    # admission hold it to its own node and pods.
    "system:node:localhost": ["system:nodes"],
}


def write_service_account_key(path: Path) -> None:
    """An RSA key for signing ServiceAccount tokens (the apiserver verifies with the same file)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def write_token_file(path: Path) -> dict[str, str]:
    """A --token-auth-file (token,user,uid,"groups") with a fresh token per user; returns user -> token."""
    tokens = {user: secrets.token_hex(16) for user in USERS}
    # The groups column is left out when empty: an empty one would put the user in a group named "".
    lines = [f"{tokens[user]},{user},{user}" + (f',"{",".join(groups)}"' if groups else "")
             for user, groups in USERS.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return tokens
