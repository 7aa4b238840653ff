# Warnings travel through an INTERFACE target so every sigkit target gets the
# same set and consumers of the installed library get none of them.
add_library(sigkit_warnings INTERFACE)
target_compile_options(sigkit_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough)
