"""judge-app raters: people who judge in the browser, and their login links."""

from __future__ import annotations

import argparse

from judge_app.cli.common import add_db_option, database

DEFAULT_BASE_URL = "http://127.0.0.1:8501"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("raters", help="add, list and disable raters",
                       description="Manage the people who judge pairs in the browser.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add", help="create a rater (or issue a new link) and print the login link",
        description="The link holds a secret token; it is shown once and stored only hashed.",
    )
    add.add_argument("name", help="the rater's name (their rater_id)")
    add.add_argument("--admin", action="store_true", help="may open the admin pages")
    add.add_argument("--task", action="append", default=[], metavar="T",
                     help="task the rater works on (repeatable)")
    add.add_argument("--base-url", default=None,
                     help="address raters open (default: where `judge-app serve` last ran "
                     f"with this database, else {DEFAULT_BASE_URL})")
    add_db_option(add)
    add.set_defaults(func=_add)

    ls = actions.add_parser("list", help="list raters and judges")
    add_db_option(ls)
    ls.set_defaults(func=_list)

    for name, value, text in (("disable", True, "stop a rater from logging in"),
                              ("enable", False, "let a disabled rater log in again")):
        cmd = actions.add_parser(name, help=text)
        cmd.add_argument("name", help="the rater's name")
        add_db_option(cmd)
        cmd.set_defaults(func=_set_disabled, disabled=value)

    assign = actions.add_parser("assign", help="give a rater more tasks")
    assign.add_argument("name", help="the rater's name")
    assign.add_argument("--task", action="append", required=True, metavar="T",
                        help="a task to add to their queue (repeat for several)")
    add_db_option(assign)
    assign.set_defaults(func=_assign)


def _add(args: argparse.Namespace) -> int:
    from judge_app.services import raters

    db = database(args)
    login = raters.add_rater(db, args.name, admin=args.admin, tasks=args.task)
    base = args.base_url or raters.base_url(db) or DEFAULT_BASE_URL
    print(f"{login.rater_id}: {login.link(base)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from judge_app.services import raters

    rows = raters.list_raters(database(args))
    print(f"{'rater':24} {'source':6} {'admin':5} {'status':8} tasks")
    for r in rows:
        status = "disabled" if r["disabled"] else "active"
        print(f"{r['rater_id']:24} {r['source']:6} {'yes' if r['is_admin'] else '':5} "
              f"{status:8} {r['tasks']}")
    return 0


def _set_disabled(args: argparse.Namespace) -> int:
    from judge_app.services import raters

    raters.set_disabled(database(args), args.name, args.disabled)
    print(f"{args.name}: {'disabled' if args.disabled else 'enabled'}")
    return 0


def _assign(args: argparse.Namespace) -> int:
    from judge_app.services import raters

    raters.assign_tasks(database(args), args.name, args.task)
    print(f"{args.name}: assigned {', '.join(args.task)}")
    return 0
