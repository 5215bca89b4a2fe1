import sys

from tools.chaos.cli import standalone

sys.exit(standalone())
