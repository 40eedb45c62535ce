"""Stand-ins for the `heroku` and `git` commands, for testing bin/deploy-heroku-container.

Installed on PATH under both names (see install()); they keep the platform's state in a JSON file,
append every call to a log, and answer the subcommands the deploy script uses the way the real
CLI does: the same JSON shapes, the same exit codes, a release per change, a release phase that
is pending for one look before it succeeds (or fails, when the state says so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ.get("FAKE_HEROKU_STATE", "/nonexistent"))
LOG = Path(os.environ.get("FAKE_HEROKU_LOG", "/nonexistent"))
ROOT = Path(__file__).resolve().parents[2]
# What the add-ons set, in the shape they set it (settings parse these when a one-off dyno runs).
SERVICE_CONFIG = {
    "heroku-postgresql": ("DATABASE_URL", "postgres://u1:secret@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1"),
    "heroku-redis": ("REDIS_URL", "rediss://:secret@ec2-5-6-7-8.compute-1.amazonaws.com:6380"),
}


def install(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("heroku", "git"):
        script = bin_dir / name
        script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                          f"from tests.ops.fake_heroku import main\nsys.exit(main({name!r}))\n")
        script.chmod(0o755)


def initial_state(*, head: str, web_url: str, release_outcome: str = "succeeded") -> dict:
    return {"head": head, "web_url": web_url, "release_outcome": release_outcome,
            "apps": {}, "remote": {}}


def load() -> dict:
    return json.loads(STATE.read_text())


def save(state: dict) -> None:
    STATE.write_text(json.dumps(state, indent=1))


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def positional(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--app", "-a", "--stack", "-C"):
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def add_release(app: dict, description: str, status: str = "succeeded") -> dict:
    version = len(app["releases"]) + 1
    release = {"version": version, "status": status, "description": description, "current": False}
    app["releases"].append(release)
    if status == "succeeded":
        make_current(app, release)
    return release


def make_current(app: dict, release: dict) -> None:
    for r in app["releases"]:
        r["current"] = r is release


def fail(message: str, code: int = 1) -> int:
    print(f" ▸    {message}", file=sys.stderr)
    return code


def heroku(args: list[str], state: dict) -> int:
    command, rest = args[0], args[1:]
    if command == "auth:whoami":
        print("operator@example.com")
        return 0
    if command == "apps:create":
        name = positional(rest)[0]
        if name in state["apps"]:
            return fail(f"Name {name} is already taken")
        app = {"stack": option(rest, "--stack") if "--stack" in rest else "heroku-24", "addons": [],
               "config": {}, "releases": [], "formation": {}}
        state["apps"][name] = app
        add_release(app, "Initial release")
        print(f"Creating ⬢ {name}... done, stack is {app['stack']}")
        print(f"{state['web_url']} | https://git.heroku.com/{name}.git")
        return 0
    name = option(rest, "--app")
    if name not in state["apps"]:
        return fail("Couldn't find that app.")
    app = state["apps"][name]
    if command == "apps:info":
        print(json.dumps({"addons": [], "app": {"name": name, "stack": {"name": app["stack"]},
                          "build_stack": {"name": app["stack"]}, "web_url": state["web_url"]}}))
    elif command == "stack:set":
        app["stack"] = positional(rest)[0]
        print(f"Setting stack to {app['stack']}... done")
    elif command == "addons":
        print(json.dumps([{"name": f"{s}-1", "addon_service": {"name": s}, "state": "provisioned"}
                          for s in app["addons"]]))
    elif command == "addons:create":
        service = positional(rest)[0].split(":")[0]
        app["addons"].append(service)
        variable, url = SERVICE_CONFIG[service]
        app["config"][variable] = url
        add_release(app, f"Attach {variable.removesuffix('_URL')} ({service})")
        print(f"Creating {positional(rest)[0]} on ⬢ {name}... done")
    elif command == "addons:wait":
        pass
    elif command == "config":
        print(json.dumps(app["config"]))
    elif command == "config:set":
        pairs = dict(p.split("=", 1) for p in positional(rest))
        app["config"].update(pairs)
        release = add_release(app, f"Set {', '.join(pairs)} config vars")
        print(f"Setting {', '.join(pairs)} and restarting ⬢ {name}... done, v{release['version']}",
              file=sys.stderr)
        for key, value in pairs.items():  # the real CLI echoes every value it set
            print(f"{key}: {value}")
    elif command == "releases":
        print(json.dumps(sorted(app["releases"], key=lambda r: -r["version"])))
        for release in app["releases"]:
            if release["status"] == "pending":  # seen pending once, then the phase finishes
                release["status"] = state["release_outcome"]
                if release["status"] == "succeeded":
                    make_current(app, release)
    elif command == "run":
        # A one-off dyno: the command runs here, in this checkout, with the app's config vars.
        argv = rest[rest.index("--") + 1:]
        print(f"Running {' '.join(argv)} on ⬢ {name}... up, run.4242 (Basic)", file=sys.stderr)
        if argv[0] == "python":
            argv[0] = sys.executable
        code = subprocess.run(argv, cwd=ROOT, env={**os.environ, **app["config"]}).returncode
        return code if "--exit-code" in rest else 0
    elif command == "ps:scale":
        changes = positional(rest)
        if not changes:
            print(" ".join(f"{t}={q}:Basic" for t, q in sorted(app["formation"].items())))
        for change in changes:
            kind, quantity = change.split("=")
            app["formation"][kind] = int(quantity)
        if changes:
            print(f"Scaling dynos... done, now running {', '.join(changes)}")
    else:
        return fail(f"fake heroku does not know {command}", 2)
    return 0


def git(args: list[str], state: dict) -> int:
    if args[0] == "-C":
        args = args[2:]
    command = args[0]
    if command == "rev-parse":
        print(state["head"])
    elif command == "status":
        pass
    elif command == "ls-remote":
        sha = state["remote"].get(args[1])
        if sha:
            print(f"{sha}\trefs/heads/main")
    elif command == "push":
        url, refspec = args[1], args[2]
        sha = refspec.split(":")[0]
        state["remote"][url] = sha
        name = url.rstrip("/").removesuffix(".git").rsplit("/", 1)[1]
        app = state["apps"][name]
        # The build runs while the push waits; the release phase runs after it returns.
        add_release(app, f"Deploy {sha[:8]}", status="pending")
        print("remote: Verifying deploy... done.", file=sys.stderr)
    else:
        print(f"fake git does not know {command}", file=sys.stderr)
        return 2
    return 0


def main(tool: str) -> int:
    args = sys.argv[1:]
    with LOG.open("a") as log:
        log.write(json.dumps([tool, *args]) + "\n")
    state = load()
    code = (heroku if tool == "heroku" else git)(args, state)
    save(state)
    return code
