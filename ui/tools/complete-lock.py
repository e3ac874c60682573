#!/usr/bin/env python3
"""Adds lock entries for optional platform packages the package registry mirror does not carry.

Some mirrors (like the one on Gantry's build machines) omit e.g. rollup's non-Linux builds; npm then
leaves them out of package-lock.json and `npm ci` refuses the lock as out of sync. Each missing
optional dependency gets an entry marked optional with its os/cpu, which npm skips on other
platforms. Run after `npm install` changes the lock: python3 tools/complete-lock.py
"""
import json
import re
import sys
from pathlib import Path

lock_path = Path(__file__).resolve().parent.parent / "package-lock.json"
lock = json.loads(lock_path.read_text())
packages = lock["packages"]
added = []
pattern = re.compile(r"-(android|darwin|freebsd|linux|openbsd|openharmony|win32|sunos|netbsd|aix)-([a-z0-9]+)")
for info in list(packages.values()):
    for dep, version in (info.get("optionalDependencies") or {}).items():
        key = f"node_modules/{dep}"
        if key in packages:
            continue
        entry = {"version": version, "dev": True, "optional": True}
        m = pattern.search(dep)
        if m:
            entry["cpu"] = [m.group(2)]
            entry["os"] = [m.group(1)]
            if "musl" in dep:
                entry["libc"] = ["musl"]
            elif "-gnu" in dep:
                entry["libc"] = ["glibc"]
        packages[key] = entry
        added.append(dep)
lock["packages"] = dict(sorted(packages.items(), key=lambda kv: (kv[0] != "", kv[0])))
lock_path.write_text(json.dumps(lock, indent=2) + "\n")
print(f"complete-lock: added {len(added)} optional entries", file=sys.stderr)
