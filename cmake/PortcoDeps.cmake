# Finding the Debian packages portco builds with. When a dependency is
# missing, the configure stops with a message that names the Debian package to
# install, not only the pkg-config module or file CMake looked for.

# portco_missing(WHAT PACKAGE [NOTE...]) stops the configure: WHAT was not
# found and the Debian package PACKAGE provides it. NOTE, when given, is added
# in parentheses.
function(portco_missing what package)
    set(msg "${what} not found: apt-get install ${package}")
    if(ARGN)
        list(JOIN ARGN " " note)
        string(APPEND msg " (${note})")
    endif()
    string(APPEND msg ". ./scripts/setup.sh installs every package portco builds, tests and "
           "runs with.")
    message(FATAL_ERROR "${msg}")
endfunction()

# portco_find_pkg_config() finds pkg-config or stops the configure. It is a
# macro: FindPkgConfig sets variables that pkg_check_modules() reads later in
# the calling scope.
macro(portco_find_pkg_config)
    find_package(PkgConfig QUIET)
    if(NOT PKG_CONFIG_FOUND)
        portco_missing("pkg-config" pkg-config)
    endif()
endmacro()

# portco_require_pkg(PREFIX PACKAGE MODULE...) makes the pkg-config modules
# MODULE... available as the imported target PkgConfig::PREFIX, or stops the
# configure naming the Debian package PACKAGE and the modules that are missing.
function(portco_require_pkg prefix package)
    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${ARGN})
    if(${prefix}_FOUND)
        return()
    endif()
    set(missing "")
    foreach(module IN LISTS ARGN)
        execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --exists ${module}
                        RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
        if(NOT rc EQUAL 0)
            list(APPEND missing ${module})
        endif()
    endforeach()
    if(NOT missing)
        set(missing ${ARGN})
    endif()
    list(JOIN missing ", " names)
    portco_missing("pkg-config module ${names}" ${package})
endfunction()

# portco_require_zookeeper_st() makes the single-threaded ZooKeeper C client
# available as the interface target zookeeper_st, or stops the configure naming
# libzookeeper-st-dev. Debian's package ships no pkg-config file. The
# single-threaded flavour is used because every daemon drives ZooKeeper from
# its own event loop.
function(portco_require_zookeeper_st)
    find_path(ZOOKEEPER_INCLUDE_DIR zookeeper/zookeeper.h)
    find_library(ZOOKEEPER_LIBRARY zookeeper_st)
    if(NOT ZOOKEEPER_INCLUDE_DIR OR NOT ZOOKEEPER_LIBRARY)
        set(note "it conflicts with libzookeeper-mt-dev, which apt-get then removes:"
                 "the daemons drive ZooKeeper from their own event loops and need the"
                 "single-threaded client library")
        find_library(mt_library zookeeper_mt NO_CACHE)
        if(mt_library)
            set(note "${mt_library} is the multi-threaded client of libzookeeper-mt-dev, and"
                     ${note})
        endif()
        portco_missing("ZooKeeper C client (single-threaded, libzookeeper_st)" libzookeeper-st-dev
                       ${note})
    endif()
    add_library(zookeeper_st INTERFACE)
    target_include_directories(zookeeper_st INTERFACE ${ZOOKEEPER_INCLUDE_DIR})
    target_link_libraries(zookeeper_st INTERFACE ${ZOOKEEPER_LIBRARY})
endfunction()
