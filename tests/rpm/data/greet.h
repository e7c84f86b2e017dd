#ifndef GREET_H
#define GREET_H
void greet(const char *name);
const char *greet_build_date(void);
#endif
