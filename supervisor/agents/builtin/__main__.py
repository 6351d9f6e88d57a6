"""``python -m supervisor.agents.builtin``: the agent process of a bead."""

import sys

from supervisor.agents.builtin.loop import main

sys.exit(main())
