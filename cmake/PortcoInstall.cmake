# Installed files besides the targets (which each directory installs itself):
# the documentation, always, into ${CMAKE_INSTALL_DOCDIR} (share/doc/portco),
# laid out as in the source tree so that the README's links keep working; and
# with the daemons, their systemd units into ${PORTCO_SYSTEMD_UNITDIR}.

set(PORTCO_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where the systemd units are installed, relative to the install prefix")

set(_portco_docs ${PROJECT_SOURCE_DIR}/README.md)
# The licence text is installed when the source tree has one.
if(EXISTS ${PROJECT_SOURCE_DIR}/LICENSE)
    list(APPEND _portco_docs ${PROJECT_SOURCE_DIR}/LICENSE)
endif()
install(FILES ${_portco_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB _portco_doc_pages CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${_portco_doc_pages} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
install(FILES ${PROJECT_SOURCE_DIR}/config/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/config)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/examples DESTINATION ${CMAKE_INSTALL_DOCDIR}/config)

if(PORTCO_DAEMONS)
    # The units in deploy/systemd name the default locations under /usr/local;
    # the installed copies name the directories of the prefix installed to
    # (cmake --install --prefix included), so that a /usr install runs
    # /usr/sbin/portco-agent. DESTDIR is not part of the paths in the files.
    file(GLOB _portco_units CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/deploy/systemd/*.service)
    foreach(unit IN LISTS _portco_units)
        get_filename_component(name ${unit} NAME)
        set(staged ${PROJECT_BINARY_DIR}/systemd/${name})
        install(CODE "
            set(_pc_sbindir \"${CMAKE_INSTALL_SBINDIR}\")
            set(_pc_docdir \"${CMAKE_INSTALL_DOCDIR}\")
            set(_pc_unitdir \"${PORTCO_SYSTEMD_UNITDIR}\")
            foreach(_pc_v _pc_sbindir _pc_docdir _pc_unitdir)
                if(NOT IS_ABSOLUTE \"\${\${_pc_v}}\")
                    set(\${_pc_v} \"\${CMAKE_INSTALL_PREFIX}/\${\${_pc_v}}\")
                endif()
            endforeach()
            file(READ \"${unit}\" _pc_text)
            string(REPLACE /usr/local/sbin/ \"\${_pc_sbindir}/\" _pc_text \"\${_pc_text}\")
            string(REPLACE /usr/local/share/doc/portco/ \"\${_pc_docdir}/\" _pc_text
                   \"\${_pc_text}\")
            file(WRITE \"${staged}\" \"\${_pc_text}\")
            file(INSTALL DESTINATION \"\${_pc_unitdir}\" TYPE FILE FILES \"${staged}\")
        ")
    endforeach()
endif()
