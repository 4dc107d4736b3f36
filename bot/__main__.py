import sys

from bot.cli import main

if __name__ == "__main__":  # not again in a process `confide audit verify` spawns
    sys.exit(main(sys.argv[1:]))
