"""`python -m charlstm` runs the same CLI as the `charlstm` console script."""

from charlstm.cli import main

if __name__ == "__main__":
    main(prog_name="charlstm")
