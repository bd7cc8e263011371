"""Who may do what: Kakunin's three roles, and the file that gives users them.

`expectations/web-roles.yaml` names users per role, and may grant a role to everyone holding an
Airflow role (the simple auth manager's `admin`, FAB's `Admin`). A user may hold several roles;
a user holding none sees nothing but a page saying so.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kakunin.errors import ConfigError

ROLES_FILE = "web-roles.yaml"


class Role(StrEnum):
    """A Kakunin role: what a user does, not what Airflow lets them do."""

    ACQUISITION = "acquisition"  # uploads batches with their documents and evidence; approves others'
    AUDITOR = "auditor"  # reads: traces, receipts, certificates, the audit log; runs verify
    ENGINEER = "engineer"  # runs the pipeline: every batch, subject requests, exports


class RoleMap(BaseModel):
    """`web-roles.yaml`: users by role, and Airflow roles that grant a Kakunin role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: dict[Role, list[str]] = Field(default_factory=dict, description="role -> Airflow user names")
    airflow_roles: dict[str, list[Role]] = Field(
        default_factory=dict, description="Airflow role name -> the Kakunin roles it grants"
    )

    @field_validator("users")
    @classmethod
    def _names(cls, value: dict[Role, list[str]]) -> dict[Role, list[str]]:
        for role, names in value.items():
            if any(not name.strip() for name in names):
                raise ValueError(f"an empty user name under {role.value}")
        return value

    def roles_of(self, user: str, airflow_roles: tuple[str, ...] = ()) -> frozenset[Role]:
        """The roles `user` holds: named under a role (case ignored), or granted by an Airflow role."""
        wanted = user.strip().casefold()
        named = {role for role, names in self.users.items() if any(n.strip().casefold() == wanted for n in names)}
        granted = {role for name in airflow_roles for role in self.airflow_roles.get(name, [])}
        return frozenset(named | granted)


def load_role_map(path: Path) -> RoleMap:
    """The role map in `path`; `ConfigError` naming the file when it cannot be used. No file: nobody has a role."""
    from pydantic import ValidationError

    from kakunin.yaml_io import DocumentSyntaxError, parse_mapping

    if not path.is_file():
        return RoleMap()
    try:
        return RoleMap.model_validate(parse_mapping(path.read_text(encoding="utf-8")))
    except (DocumentSyntaxError, ValidationError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid role map: {exc}") from exc
