"""Reads pip's output on stdin and prints a few lines of progress instead of pip's hundreds (`make setup`).

pip's full output goes to a log beside the venv (the Makefile tees it there and prints its tail on failure);
this only says how far the install is, so the first, slow setup is not silent."""

import sys

EVERY = 15  # a line every this many packages collected


def main() -> None:
    collected = 0
    last = ""
    for line in sys.stdin:
        if line.startswith("Collecting "):
            collected += 1
            last = line.split()[1]
            if collected % EVERY == 0:
                print(f"    {collected} packages resolved (now: {last})", flush=True)
        elif line.startswith("Installing collected packages:"):
            count = line.count(",") + 1
            print(f"    {collected} resolved; installing {count} (the first time takes a few minutes) ...", flush=True)
        elif line.startswith("Successfully installed"):
            count = len(line.split()) - 2
            print(f"    installed {count} package{'' if count == 1 else 's'}", flush=True)
        elif line.startswith(("ERROR", "error:")):
            print(line.rstrip(), flush=True)


if __name__ == "__main__":
    main()
