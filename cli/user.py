"""``duban user``: who may act on the ledger, and for which unit."""

from __future__ import annotations

import click

from cli.common import Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _
from engine.i18n import pgettext


@click.group()
def user() -> None:
    """Register users and list them (admins register; everyone acts under a registered name)."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, metavar="ROLE",
              help="admin, supervisor, leader or unit.")
@click.option("--unit", metavar="UNIT", help="The unit the user acts for (required for role unit).")
@click.option("--display", metavar="TEXT", help="Display name, e.g. 办公室主任 (a leader is matched by it too).")
@click.option("--email", metavar="ADDR", help="E-mail address for reminders.")
@click.option("--webhook", metavar="URL", help="Webhook URL for reminders.")
@json_option
@pass_ctx
@domain_errors
def add(obj: Context, name: str, role: str, unit: str | None, display: str | None, email: str | None,
        webhook: str | None, as_json: bool) -> None:
    """Register user NAME with a role (admins only)."""
    view = obj.app().add_user(obj.actor, name, role, unit=unit, display=display, email=email, webhook=webhook)
    if as_json:
        echo_json(view.as_dict())
        return
    unit_part = _(', unit {unit}').format(unit=view.unit) if view.unit else ""
    from engine.core.errors import role_word

    echo(_('user {name} added: role {role}{unit_part}').format(name=view.name, role=role_word(view.role),
                                                               unit_part=unit_part))


@user.command("list")
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, as_json: bool) -> None:
    """List registered users."""
    from cli.render import Column, fitted_table, labelled

    from engine.core.errors import role_word

    users = obj.app().list_users()
    if as_json:
        # the machine value, and its label beside it
        echo_json([{**u.as_dict(), "role_label": str(role_word(u.role))} for u in users])
        return
    # Laid out like task list; the contact details a user has go under their row, labelled.
    fitted_table([Column(pgettext('user', 'name'), cap=14, keep=False), Column(_('role')),
                  Column(pgettext('user', 'unit'), cap=16, keep=False), Column(_('display name'), flex=True, keep=False)],
                 [[u.name, str(role_word(u.role)), u.unit, u.display] for u in users],
                 details=[[labelled(_('email'), u.email), labelled(_('mobile'), u.mobile),
                           labelled(_('robot ids'), _ids(u)), labelled(_('webhook'), u.webhook)] for u in users])


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts) instead of asking.")
@pass_ctx
@domain_errors
def passwd(obj: Context, name: str, password_stdin: bool) -> None:
    """Set NAME's password for 'duban serve' (the user themself or an admin; stored as an argon2 hash).

    Sessions opened with the old password are refused from then on."""
    import sys

    from engine import accounts

    if password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    else:
        password = click.prompt(_('New password'), hide_input=True,
                                confirmation_prompt=_('Repeat it'))
    accounts.set_password(obj.app(), obj.actor, name, password)
    echo(_('password of {name} set; sessions opened before are signed out').format(name=name))


@user.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Withdraw all of NAME's API tokens instead of issuing one.")
@pass_ctx
@domain_errors
def token(obj: Context, name: str, revoke: bool) -> None:
    """Issue an API token for NAME (printed once, as the last line; only its digest is kept),
    or withdraw all of NAME's tokens with --revoke."""
    from engine import accounts

    if revoke:
        count = accounts.revoke_tokens(obj.app(), obj.actor, name)
        echo(_('{count} API token(s) of {name} withdrawn').format(count=count, name=name))
        return
    issued = accounts.new_token(obj.app(), obj.actor, name)
    echo(_("API token for {user} (shown once; send it as 'Authorization: Bearer TOKEN'):").format(user=issued.user))
    echo(issued.token)


def _ids(u: object) -> str:
    ids = [f"{label}:{value}" for label, value in (("wecom", getattr(u, "wecom_id", None)),
                                                   ("dingtalk", getattr(u, "dingtalk_id", None)),
                                                   ("feishu", getattr(u, "feishu_id", None))) if value]
    return " ".join(ids)


@user.command("set")
@click.argument("name")
@click.option("--mobile", metavar="NUMBER", help="Mobile number (DingTalk and WeCom robots @-mention by it).")
@click.option("--email", metavar="ADDR", help="E-mail address for reminders (Feishu mentions by it too).")
@click.option("--wecom-id", metavar="ID", help="WeCom (企业微信) user id, for <@userid> mentions.")
@click.option("--dingtalk-id", metavar="ID", help="DingTalk (钉钉) user id, for atUserIds.")
@click.option("--feishu-id", metavar="ID", help="Feishu/Lark open_id (ou_…), for <at id=…> mentions.")
@json_option
@pass_ctx
@domain_errors
def set_(obj: Context, name: str, mobile: str | None, email: str | None, wecom_id: str | None,
         dingtalk_id: str | None, feishu_id: str | None, as_json: bool) -> None:
    """Set user NAME's contact details for reminders and @-mentions (admins only; "" clears one)."""
    view = obj.app().set_user(obj.actor, name, mobile=mobile, email=email, wecom_id=wecom_id,
                              dingtalk_id=dingtalk_id, feishu_id=feishu_id)
    if as_json:
        echo_json(view.as_dict())
        return
    echo(_('user {name}: contact details set').format(name=view.name))
