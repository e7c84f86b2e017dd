#include <stdio.h>
#include "greet.h"

const char *greet_build_date(void) { return __DATE__ " " __TIME__; }

void greet(const char *name) { printf("hello, %s\n", name); }
