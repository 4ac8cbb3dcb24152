"""A small C program whose frames tests name by source line: main calls
outer_function calls leaf_function, each line marked (LEAF, OUTER, MAIN).
Built with -DVARIANT=N so that several copies differ (and so their build-ids)."""

PROG_C = r"""#include <stdio.h>

__attribute__((noinline)) static int leaf_function(int x)
{
	int y = x * 2; /* LEAF */
	return y + VARIANT;
}

__attribute__((noinline)) int outer_function(int n)
{
	return leaf_function(n) + 3; /* OUTER */
}

int main(int argc, char **argv)
{
	(void)argv;
	printf("%d\n", outer_function(argc)); /* MAIN */
	return 0;
}
"""


def line_of(marker):
    """The line of PROG_C marked /* marker */."""
    return next(i for i, line in enumerate(PROG_C.splitlines(), 1) if f"/* {marker} */" in line)
