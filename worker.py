"""A crisisdesk worker: runs case workflows and their activities. Any number may run at once.

    python worker.py        # configured from the environment (docs/contract.md)

The worker lives in `starter.worker`; this file is the command.
"""

from starter.worker import run

if __name__ == "__main__":
    run()
