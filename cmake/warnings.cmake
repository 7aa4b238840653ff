# Warnings travel through an INTERFACE target so every sigkit target gets the
# same set and consumers of the installed library get none of them.
add_library(sigkit_warnings INTERFACE)
target_compile_options(sigkit_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
  # GCC 12 false positives at -O2/-O3: -Wrestrict on `"literal" + std::string`
  # (GCC bug 105329) and -Wmismatched-new-delete inside Asio's coroutine
  # frame allocator, which pairs its own operator new with free() correctly.
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict -Wno-mismatched-new-delete>)
