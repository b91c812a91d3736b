# Packaging.cmake: what `cmake --install` lays down, and the Debian package
# CPack builds from it (scripts/dev.sh install, scripts/dev.sh deb).
#
# The install is relocatable by default: entrakey finds entrakey-full
# relative to itself (libexec/entrakey/), which finds libentrakey.so.0
# through RPATH $ORIGIN/../lib..., and entrakey.pc derives its prefix from
# where it lies (${pcfiledir}), so `cmake --install build --prefix ~/.local`
# gives a working entrakey although the build was configured for /usr/local.
# The Debian package turns this off (-DEK_RELOCATABLE=OFF): the library is
# in the system's directory there, and the two private objects in
# libexec/entrakey name that directory (below); no public binary or
# library has an RPATH.

option(EK_RELOCATABLE
  "Installed binary and entrakey.pc find the library relative to themselves"
  ON)

if(EK_RELOCATABLE AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}"
    AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}"
    AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  file(RELATIVE_PATH ek_full_to_lib
    "${CMAKE_INSTALL_FULL_LIBEXECDIR}/entrakey" "${CMAKE_INSTALL_FULL_LIBDIR}")
  set_target_properties(entrakey_full entrakey_full_so PROPERTIES
    INSTALL_RPATH "\$ORIGIN/${ek_full_to_lib}")
  file(RELATIVE_PATH ek_pc_to_prefix "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig"
    "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/$" "" ek_pc_to_prefix "${ek_pc_to_prefix}")
  set(EK_PC_PREFIX "\${pcfiledir}/${ek_pc_to_prefix}")
  set(EK_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(EK_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
else()
  if(EK_RELOCATABLE)
    message(WARNING "an absolute CMAKE_INSTALL_*DIR: the install is not "
      "relocatable")
  endif()
  # entrakey-full and entrakey-full.so (private, in libexec/entrakey) get
  # their own build's library by its absolute directory, even in the
  # system's: ld.so's cache puts /usr/local/lib first, so an entrakey once
  # installed there (the quickstart's) would otherwise give the package's
  # entrakey-full another build's libentrakey.so.0 and its
  # libentrakey-curl.so.4. Nothing else gets a RUNPATH; LD_LIBRARY_PATH
  # still comes first.
  set_target_properties(entrakey_full entrakey_full_so PROPERTIES
    INSTALL_RPATH "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(EK_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(EK_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(EK_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
endif()
configure_file(cmake/entrakey.pc.in entrakey.pc @ONLY)

# The man page, gzip'd as man-db and Debian expect.
find_program(EK_GZIP gzip)
if(EK_GZIP)
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/entrakey.1.gz
    COMMAND ${EK_GZIP} -9nc ${PROJECT_SOURCE_DIR}/docs/entrakey.1
      > ${PROJECT_BINARY_DIR}/entrakey.1.gz
    DEPENDS ${PROJECT_SOURCE_DIR}/docs/entrakey.1 VERBATIM)
  add_custom_target(ek_manpage ALL DEPENDS ${PROJECT_BINARY_DIR}/entrakey.1.gz)
  set(EK_MANPAGE ${PROJECT_BINARY_DIR}/entrakey.1.gz)
else()
  set(EK_MANPAGE ${PROJECT_SOURCE_DIR}/docs/entrakey.1)
endif()

set(EK_DOCDIR ${CMAKE_INSTALL_DATADIR}/doc/entrakey)
install(TARGETS entrakey
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS entrakey_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# the whole command, which entrakey runs (src/cli/fast/fast_main.c)
install(TARGETS entrakey_full
  RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/entrakey)
# the same, loaded into entrakey for the direct path of token and assert
install(TARGETS entrakey_full_so
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/entrakey)
install(FILES ${PROJECT_BINARY_DIR}/entrakey.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${EK_MANPAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES completion/entrakey.bash
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  RENAME entrakey)
# Debian's zsh has share/zsh/vendor-completions in its fpath
install(FILES completion/_entrakey
  DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES dist/systemd/entrakey-exo@.service
  dist/systemd/entrakey-exo@.timer dist/systemd/entrakey-check.service
  dist/systemd/entrakey-check.timer dist/systemd/README
  DESTINATION ${EK_DOCDIR}/examples/systemd)
install(FILES dist/polkit/50-entrakey-pcscd.rules
  DESTINATION ${EK_DOCDIR}/examples/polkit)
# the user's guides, which --help, the man page and each other point to
# (architecture.md is for contributors)
install(FILES README.md CHANGELOG.md docs/getting-started.md
  docs/app-registration.md docs/exchange-online.md docs/uri-and-pins.md
  docs/errors.md docs/security.md docs/monitoring.md docs/agent.md
  docs/powershell.md docs/managed-identity.md docs/workload-identity.md
  docs/rotation.md docs/api.md docs/compatibility.md docs/performance.md
  dist/copyright
  DESTINATION ${EK_DOCDIR})
# the lean libcurl linked into the client (EK_AGENT_CURL): its licence
# travels with the binary
if(EK_AGENT_CURL)
  install(FILES ${EK_AGENT_CURL}/share/doc/COPYING
    DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME curl-COPYING)
  # its HTTPS build, which libentrakey opens beside itself (src/http_dl.c)
  install(FILES ${EK_HTTPS_CURL_SO} DESTINATION ${CMAKE_INSTALL_LIBDIR}
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()

# The Debian package: `scripts/dev.sh deb` (cpack -G DEB in its own build).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME entrakey)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Entra ID client credentials whose key never leaves a PKCS#11 token")
set(CPACK_PACKAGE_DESCRIPTION
  "entrakey generates an RSA key on a PKCS#11 token (YubiKey, smartcard,
HSM, TPM), makes the certificate for an Entra ID app registration with
the signature made on the token, signs JWT client assertions there, and
exchanges them for access tokens (Exchange Online, Graph, ARM). A command
and a C library (libentrakey.so.0, entrakey.h, entrakey.pc).")
set(CPACK_PACKAGE_CONTACT "entrakey maintainers <entrakey@localhost>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
# libp11-kit0, libssl3, libcjson1, libinih1, libc6 from dpkg-shlibdeps;
# libcurl (at the first request, src/http_dl.c, when a proxy is set or
# the package has no libentrakey-curl.so.4) and libmicrohttpd (when
# `entrakey agent` starts, src/agent/mhd_dl.c) are opened with dlopen, so
# shlibdeps cannot see them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libcurl4 (>= 7.68), libmicrohttpd12 (>= 0.9.71), ca-certificates")
# softhsm2 for `entrakey quickstart`; ykcs11 and pcscd for a YubiKey
# libsystemd0: opened for --audit journal only
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "softhsm2, ykcs11, pcscd, libsystemd0")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "opensc-pkcs11, p11-kit, bash-completion")
# a shlibs file and the ldconfig trigger for libentrakey.so.0
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_STRIP_FILES ON)
set(CPACK_SET_DESTDIR OFF)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
