// libpng 1.6's API (pkg-config libpng adds its include directory).
#include <png.h>
