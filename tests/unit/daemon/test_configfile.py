"""Policy changes written back to the config file: comments and layout kept, atomically, 0600."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from fsreplica.daemon import configfile
from fsreplica.daemon.config import load_config
from fsreplica.daemon.control import Policy
from fsreplica.errors import ConfigError

TEXT = """\
# my backups
[daemon]
socket = "/tmp/fsr.sock"  # where the API listens

# documents, every hour
[[policy]]
id = "docs"   # the id
source = "/srv/docs"
destination = "/backup/docs"
transfers = 4 # spelt out on purpose
scan_interval = "60m"

# photos
[[policy]]
id = "photos"
source = "/srv/photos"
destination = "/backup/photos"

# music
[[policy]]
id = "music"
source = "/srv/music"
destination = "/backup/music"
# the end
"""


@pytest.fixture
def path(tmp_path: Path) -> str:
    config = tmp_path / "config.toml"
    config.write_text(TEXT)
    return str(config)


def policy(path: str, policy_id: str) -> Policy:
    return next(p for p in load_config(path).policies if p.id == policy_id)


class TestEdits:
    """Each edit touches one table; every comment and the other tables stay as written."""

    def test_update_in_place(self, path: str) -> None:
        docs = policy(path, "docs")
        configfile.replace_policy(path, dataclasses.replace(docs, transfers=8, enabled=False))
        assert Path(path).read_text() == TEXT.replace(
            "transfers = 4 # spelt out", "transfers = 8 # spelt out"
        ).replace('scan_interval = "60m"\n', 'scan_interval = "60m"\nenabled = false\n')

    def test_a_field_back_to_its_default_is_removed(self, path: str) -> None:
        docs = policy(path, "docs")
        configfile.replace_policy(path, dataclasses.replace(docs, scan_interval=3600.0 * 2))
        assert 'scan_interval = "2h"' in Path(path).read_text()
        configfile.replace_policy(path, dataclasses.replace(docs, scan_interval=3600.0))
        assert "scan_interval" not in Path(path).read_text()
        assert "transfers = 4 # spelt out on purpose" in Path(path).read_text()  # as written

    def test_remove_keeps_the_comments_of_the_others(self, path: str) -> None:
        configfile.remove_policy(path, "photos")
        assert Path(path).read_text() == TEXT.replace(
            '# photos\n[[policy]]\nid = "photos"\nsource = "/srv/photos"\n'
            'destination = "/backup/photos"\n\n',
            "",
        )

    def test_remove_the_first_and_the_last(self, path: str) -> None:
        configfile.remove_policy(path, "docs")
        configfile.remove_policy(path, "music")
        text = Path(path).read_text()
        assert "# documents" not in text
        assert "# music" not in text
        assert text.startswith('# my backups\n[daemon]\nsocket = "/tmp/fsr.sock"  # where')
        assert "# photos\n[[policy]]\n" in text
        assert [p.id for p in load_config(path).policies] == ["photos"]

    def test_add_appends_a_table(self, path: str) -> None:
        new = Policy(id="mail", source="/srv/mail", destination="s3://b/mail", exclude=("*.tmp",))
        configfile.add_policy(path, new)
        assert Path(path).read_text() == TEXT + (
            '\n[[policy]]\nid = "mail"\nsource = "/srv/mail"\ndestination = "s3://b/mail"\n'
            'exclude = ["*.tmp"]\n'
        )
        assert policy(path, "mail") == new

    def test_add_to_a_file_without_policies(self, tmp_path: Path) -> None:
        path = tmp_path / "config.toml"
        path.write_text("# nothing yet\n")
        configfile.add_policy(str(path), Policy(id="a", source="/s", destination="/d"))
        assert [p.id for p in load_config(path).policies] == ["a"]
        assert path.read_text().startswith("# nothing yet\n")

    def test_remove_the_only_policy(self, tmp_path: Path) -> None:
        path = tmp_path / "config.toml"
        path.write_text('[[policy]]\nid = "a"\nsource = "/s"\ndestination = "/d"\n')
        configfile.remove_policy(str(path), "a")
        assert load_config(path).policies == ()


class TestAtomicWrite:
    """The file is replaced whole, 0600, in a 0700 directory created for it."""

    def test_modes(self, tmp_path: Path) -> None:
        path = tmp_path / "new" / "fsreplica" / "config.toml"
        configfile.add_policy(str(path), Policy(id="a", source="/s", destination="/d"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert os.listdir(path.parent) == ["config.toml"]  # no temporary file left

    def test_the_old_file_is_replaced_not_rewritten(self, path: str) -> None:
        before = os.stat(path).st_ino
        configfile.remove_policy(path, "music")
        assert os.stat(path).st_ino != before

    def test_unwritable_directory(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(ConfigError) as caught:
            configfile.add_policy(
                str(blocker / "config.toml"), Policy(id="a", source="/s", destination="/d")
            )
        assert str(caught.value) == f"{blocker}/config.toml: not a directory"
