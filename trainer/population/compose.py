"""Composing a sweep's job configs without paying Hydra's full composition for each job.

Hydra composes every job of a sweep twice (the sweeper checks it, the launcher loads it),
about 0.1 s each on the 2-core CPU: for 72 small runs that is as long as training them
together. A job's config is its defaults list (decided by the group overrides, such as
`loss=l1`) composed, and then the value overrides (`seed=1`, `task.label_noise=0.2`)
applied in order (ConfigLoaderImpl._load_configuration_impl). So jobs that choose the
same groups share one composition: it is made once, and each job gets a copy with its
value overrides applied by Hydra's own function, and its `hydra.overrides` and
`hydra.job.override_dirname` set as Hydra sets them. The first job is composed both ways
and compared; if the two differ, every job is composed the full way.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)


class SharedCompositions:
    """Wraps Hydra's config loader; every other attribute is the wrapped loader's."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.parser = OverridesParser.create()
        self.bases: dict[tuple[str, ...], DictConfig] = {}
        self.loaded: dict[tuple[str, ...], DictConfig] = {}
        self.checked: bool | None = None  # None: not yet compared with Hydra's own

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]
                          ) -> DictConfig:
        """Hydra's load_sweep_config: kept for the launcher when the sweeper checks a job."""
        config = self._compose(master_config, list(sweep_overrides))
        self.loaded[tuple(sweep_overrides)] = config
        return config

    def take(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        """The job's config for the launcher: the one the sweeper's check composed, if any."""
        config = self.loaded.pop(tuple(sweep_overrides), None)
        return config if config is not None else self._compose(master_config,
                                                               list(sweep_overrides))

    def _compose(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        full = self.loader.load_sweep_config
        if self.checked is False:
            return full(master_config, sweep_overrides)
        overrides = [*OmegaConf.to_container(master_config.hydra.overrides.hydra),
                     *sweep_overrides]
        parsed = self.parser.parse_overrides(overrides=overrides)
        if any(o.is_sweep_override() for o in parsed):
            return full(master_config, sweep_overrides)  # Hydra's own error for a sweep value
        groups = tuple(o.input_line for o in parsed if self._shapes_defaults(o))
        if groups not in self.bases:
            self.bases[groups] = self.loader.load_configuration(
                config_name=master_config.hydra.job.config_name, overrides=list(groups),
                run_mode=RunMode.RUN)
        config = copy.deepcopy(self.bases[groups])
        values = [o for o in parsed if not self._is_group(o)]
        # Hydra has no public call that applies value overrides to a composed config.
        ConfigLoaderImpl._apply_overrides_to_config(values, config)
        _set_overrides(config, parsed)
        OmegaConf.copy_cache(from_config=master_config, to_config=config)
        if self.checked is None:
            reference = full(master_config, sweep_overrides)
            self.checked = OmegaConf.to_yaml(reference) == OmegaConf.to_yaml(config)
            if not self.checked:
                log.warning("population: shared compositions differ from Hydra's; composing "
                            "every job in full")
                return reference
        return config

    def _is_group(self, override: Override) -> bool:
        return (self.loader.repository.group_exists(override.key_or_group)
                and not isinstance(override.value(), dict))

    def _shapes_defaults(self, override: Override) -> bool:
        """Whether the override changes which configs are composed, not just a value."""
        return self._is_group(override) or override.key_or_group == "hydra.searchpath"


def _set_overrides(config: DictConfig, parsed: list[Override]) -> None:
    """hydra.overrides and hydra.job.override_dirname, as Hydra sets them for a job."""
    task = [o for o in parsed if not o.is_hydra_override()]
    dirname = config.hydra.job.config.override_dirname
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.overrides.hydra = [o.input_line for o in parsed if o.is_hydra_override()]
        config.hydra.overrides.task = [o.input_line for o in task]
        config.hydra.job.override_dirname = get_overrides_dirname(
            overrides=task, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep,
            exclude_keys=dirname.exclude_keys)
