"""Stream files as Hydra composes them: a team written `{stream: NAME}` is expanded as the file
is read, before the command line's overrides apply.

Why here: Hydra's struct mode refuses `stream.teams.web.pools.devs=5` when `teams.web` is only
`{stream: team_web}` (there is no `pools` key to override), and `+`/`++` would silently add a
misspelt key. Expanded on loading, a referenced team is a mapping like an inline one, so the plain
override and a sweep over it work, the run's recorded config holds the whole team, and the
config's digest changes with the team's file. The expansion is the model's
(`vssim.model.teams.expand`, the files next to the stream file, as `load_stream` reads them).
"""
from __future__ import annotations

import posixpath
from collections.abc import Mapping
from pathlib import Path

from hydra._internal.core_plugins.file_config_source import FileConfigSource
from hydra._internal.sources_registry import SourcesRegistry
from hydra.core.plugins import Plugins
from hydra.errors import ConfigCompositionException
from hydra.plugins.config_source import ConfigResult
from omegaconf import OmegaConf

from vssim.errors import SpecError
from vssim.model.teams import expand, files_in

GROUP = "stream"
EXPERIMENTS = "experiment"
"""An experiment's `stream:` patch may name team files too: `teams: {data: {stream: team_data}}`."""


class StreamFiles(FileConfigSource):
    """Hydra's source of `file://` configs; a stream file's team references come expanded, and so do
    those of an experiment's `stream:` patch (from the `stream/` folder of the same source)."""

    def load_config(self, config_path: str) -> ConfigResult:
        result = super().load_config(config_path)
        group = config_path.split("/")[0]
        if group not in (GROUP, EXPERIMENTS):
            return result
        data = OmegaConf.to_container(result.config, resolve=False)
        stream = data if group == GROUP else data.get(GROUP) if isinstance(data, Mapping) else None
        if not isinstance(stream, Mapping) or not isinstance(stream.get("teams"), Mapping):
            return result
        root = Path(self.path.removeprefix(f"{self.scheme()}://"))
        folder = root / posixpath.dirname(config_path) if group == GROUP else root / GROUP
        try:
            stream = expand(stream, files_in(folder))
        except SpecError as e:       # Hydra prints a composition error in one line, no traceback
            raise ConfigCompositionException(f"vssim: error: {GROUP}.{e}") from None
        result.config = OmegaConf.create(stream if group == GROUP else {**data, GROUP: stream})
        return result


# Hydra's registry keeps the source it has for a scheme when a class of the same __name__ registers
# again, and refuses any other: a launcher's worker (joblib, Ray) gets the registry with Hydra's
# singletons, then scans its plugins anew, registering FileConfigSource; under this name it keeps
# StreamFiles (pickle finds the class by its __qualname__, which stays StreamFiles).
StreamFiles.__name__ = FileConfigSource.__name__


def install() -> None:
    """Read `file://` configs (vssim's configs/ and a `-cd` folder) with `StreamFiles` from now on.
    Hydra registers its own sources once, when its plugins are first scanned: scan them, then
    replace the file source."""
    Plugins.instance()
    SourcesRegistry.instance().types[FileConfigSource.scheme()] = StreamFiles
