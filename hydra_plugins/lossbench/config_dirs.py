"""Plugins' own YAML: each `lossbench.configs` entry point names a package whose folders are
config groups (`experiment/my_sweep.yaml` → `experiment=my_sweep`), searched after
lossbench's configs/, so a plugin adds options and never replaces a built-in one.
trainer/plugins.py checks each entry point before Hydra composes."""

from __future__ import annotations

from importlib.metadata import entry_points

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

GROUP = "lossbench.configs"


class LossbenchPluginConfigs(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for ep in entry_points(group=GROUP):
            search_path.append(provider=f"lossbench-plugin-{ep.name}", path=f"pkg://{ep.value}")
