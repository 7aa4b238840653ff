# `cpack -G DEB` (or `cmake --build BUILD --target package`): sigkit_VERSION-1_ARCH.deb
# with what an operator needs and nothing a developer does. It holds the
# component `tools` only: the three binaries, their man pages, the systemd
# unit, the example config (a conffile) and the docs. The library's headers,
# static archives and CMake package files are in no component of their own
# (`Unspecified`), so they stay out. No root needed: the archive's owner is
# root whoever builds it.
include(GNUInstallDirs)

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME copyright COMPONENT tools)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT tools)

set(SIGKIT_PACKAGE_MAINTAINER "The sigkit authors <maintainers@sigkit.invalid>"
    CACHE STRING "Maintainer field of the .deb (Name <address>)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sigkit)
set(CPACK_PACKAGE_VENDOR "the sigkit authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "WebRTC signaling server, load tester and STUN/TURN probe")
set(CPACK_PACKAGE_DESCRIPTION [=[
sigserve is a WebRTC signaling server: rooms over WebSocket (ws:// or
wss://), a built-in demo page, TURN credentials for its clients, Prometheus
metrics and a graceful drain on SIGTERM. It comes with a systemd unit and an
example configuration in /etc/sigserve.

sigbench is a load tester for signaling servers, measuring connect, join,
relay and negotiation latency; sigprobe checks STUN and TURN servers stage
by stage and says what is wrong.]=])
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)

# One package from the one component.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL tools)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SIGKIT_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)

# Depends from the binaries themselves (dpkg-shlibdeps, in dpkg-dev; CPack
# also needs `file` to find them). Without those, the list bookworm's
# dpkg-shlibdeps computes for these binaries.
find_program(SIGKIT_DPKG_SHLIBDEPS dpkg-shlibdeps)
find_program(SIGKIT_FILE file)
if(SIGKIT_DPKG_SHLIBDEPS AND SIGKIT_FILE)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  message(WARNING "dpkg-shlibdeps (dpkg-dev) or file not found: the .deb gets a fixed Depends list for bookworm")
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.34), libgcc-s1 (>= 4.2), libidn12 (>= 1.13), libssl3 (>= 3.0.0), libstdc++6 (>= 12)")
endif()

set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/node_modules/")

include(CPack)
