# sigkit_library(PART SOURCES...): the target sigkit_PART, known to users as
# sigkit::PART, with its headers in PART/include (lib/PART is one folder, one
# namespace, one target). Dependencies are the caller's to add.
function(sigkit_library part)
  add_library(sigkit_${part} STATIC ${ARGN})
  add_library(sigkit::${part} ALIAS sigkit_${part})
  set_target_properties(sigkit_${part} PROPERTIES EXPORT_NAME ${part})
  target_include_directories(sigkit_${part} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:include>)
  target_compile_features(sigkit_${part} PUBLIC cxx_std_20)
  target_link_libraries(sigkit_${part} PRIVATE $<BUILD_INTERFACE:sigkit_warnings>)
endfunction()
