"""The role map: users by name (case ignored), Airflow roles that grant Kakunin roles, and a bad file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakunin.contracts import default_expectations_root
from kakunin.errors import ConfigError
from kakunin.web.roles import ROLES_FILE, Role, RoleMap, load_role_map


def test_the_shipped_role_map_gives_each_dev_user_one_role() -> None:
    roles = load_role_map(default_expectations_root() / ROLES_FILE)
    assert roles.roles_of("acq-01") == {Role.ACQUISITION}
    assert roles.roles_of("AUDIT-01") == {Role.AUDITOR}  # user names are matched case-insensitively
    assert roles.roles_of("eng-01") == {Role.ENGINEER}
    assert roles.roles_of("someone-else") == frozenset()


def test_an_airflow_role_grants_what_the_map_says_and_adds_to_named_roles() -> None:
    roles = RoleMap(users={Role.AUDITOR: ["kim"]}, airflow_roles={"Admin": [Role.ENGINEER]})
    assert roles.roles_of("kim", ("Admin",)) == {Role.AUDITOR, Role.ENGINEER}
    assert roles.roles_of("lee", ("Viewer",)) == frozenset()


def test_no_file_means_nobody_has_a_role(tmp_path: Path) -> None:
    assert load_role_map(tmp_path / "missing.yaml").roles_of("acq-01") == frozenset()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("users:\n  reviewer: [kim]\n", "reviewer"),  # not a Kakunin role
        ("users:\n  auditor: ['  ']\n", "empty user name"),
        ("users: [\n", "role map"),
    ],
)
def test_a_bad_role_map_is_a_config_error_naming_the_file(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / ROLES_FILE
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_role_map(path)
    assert str(path) in str(raised.value)
    assert named in str(raised.value)
