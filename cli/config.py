"""``duban config show``: the effective settings, secrets masked."""

from __future__ import annotations

import click

from cli.common import Context, domain_errors, echo, echo_json, json_option, pass_ctx, t


@click.group()
def config() -> None:
    """Show the settings in effect (config file DUBAN_CONFIG, else the user config directory)."""


@config.command("show")
@json_option
@pass_ctx
@domain_errors
def show(obj: Context, as_json: bool) -> None:
    """Print the effective settings with defaults filled in and secrets masked."""
    from engine.supervision.channels import effective_settings
    from engine.core.config import default_config_path, load_settings

    settings = load_settings()
    data = effective_settings(settings)
    if as_json:
        echo_json(data)
        return
    echo(t(f"# config file: {data['source'] or f'none ({default_config_path()} does not exist): defaults'}",
                 f"# 配置文件:{data['source'] or f'无({default_config_path()} 不存在):使用默认值'}"))
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
