"""``duban config show``: the effective settings, secrets masked."""

from __future__ import annotations

import click

from cli.common import Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _


@click.group()
def config() -> None:
    """Show the settings in effect (config file DUBAN_CONFIG, else the user config directory)."""


@config.command("show")
@json_option
@pass_ctx
@domain_errors
def show(obj: Context, as_json: bool) -> None:
    """Print the effective settings with defaults filled in and secrets masked."""
    from engine.supervision.settings import effective_settings
    from engine.core.config import default_config_path, load_settings

    settings = load_settings()
    data = effective_settings(settings)
    # The language in effect and what chose it (--lang, DUBAN_LANG, the config file, the locale or the default).
    data["general"]["lang"] = obj.lang
    data["general"]["lang_source"] = obj.lang_source
    if as_json:
        echo_json(data)
        return
    if data["source"]:
        echo(_("# config file: {path}").format(path=data["source"]))
    else:
        echo(_("# config file: none ({path} does not exist): defaults").format(path=default_config_path()))
    for section, values in data.items():
        if section == "source" or not isinstance(values, dict):
            continue
        _print_table(section, values)


def _print_table(name: str, values: dict) -> None:
    import json

    scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in values.items() if isinstance(v, dict)}
    if scalars or not tables:
        echo(f"\n[{name}]")
        for k, v in scalars.items():
            echo(f"{k} = {json.dumps(v, ensure_ascii=False)}")
    for k, v in tables.items():
        _print_table(f"{name}.{k}", v)
