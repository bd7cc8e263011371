"""`python -m kakunin.cli`: the same command as the `kakunin` script."""

from kakunin.cli import main

main()
