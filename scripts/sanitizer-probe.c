/*
 * sanitizer-probe: commits one deliberate memory or arithmetic error, chosen by
 * argv[1], so `make check-asan` can prove AddressSanitizer and UBSan are linked
 * and active before it trusts a clean run of the C tests.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "";
	/* volatile: keep the compiler from folding the errors away. */
	volatile int big = INT_MAX, one = 1;

	if (strcmp(kind, "heap-overflow") == 0) {
		char *p = malloc(8);
		p[8 + one - 1] = 1;
		free(p);
	} else if (strcmp(kind, "use-after-free") == 0) {
		char *p = malloc(8);
		free(p);
		return p[one];
	} else if (strcmp(kind, "signed-overflow") == 0) {
		int r = big + one;
		printf("%d\n", r);
	} else {
		fprintf(stderr, "usage: sanitizer-probe heap-overflow|use-after-free|signed-overflow\n");
		return 2;
	}
	return 0;
}
