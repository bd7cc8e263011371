"""`python -m kakunin.cli`: the same command as the `kakunin` script."""

from kakunin.cli import main

if __name__ == "__main__":
    main()
