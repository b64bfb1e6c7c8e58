// Snippet 16 compiled as C++ (the seed's C example is also valid C++, and must stay so).
#include "snippet_16.c"
