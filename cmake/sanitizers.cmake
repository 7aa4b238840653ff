# SIGKIT_SANITIZE=address,undefined or SIGKIT_SANITIZE=thread applies to every
# target in the tree, Boost's separately compiled parts included.
if(SIGKIT_SANITIZE)
  add_compile_options(-fsanitize=${SIGKIT_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${SIGKIT_SANITIZE})
endif()
