# Compiler flags: warnings, hardening, sanitizers, fuzzing instrumentation.

# _GNU_SOURCE for pidfd, openat2, explicit_bzero and friends; all code is Linux-only.
add_compile_definitions(_GNU_SOURCE)
add_compile_options(-Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes
	-Wmissing-prototypes -Wvla -Wimplicit-fallthrough -fno-common)
if(GD_WERROR)
	add_compile_options(-Werror)
endif()
add_compile_options(-fstack-protector-strong)
if(NOT GD_SANITIZE AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
	add_compile_definitions(_FORTIFY_SOURCE=2)
endif()

if(GD_SANITIZE)
	string(REPLACE ";" "," _gd_san "${GD_SANITIZE}")
	add_compile_options(-fsanitize=${_gd_san} -fno-omit-frame-pointer
		-fno-sanitize-recover=all)
	add_link_options(-fsanitize=${_gd_san})
endif()

if(GD_BUILD_FUZZERS)
	if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
		message(FATAL_ERROR "GD_BUILD_FUZZERS needs clang (CC=clang)")
	endif()
	add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(GD_CLANG_TIDY)
	find_program(GD_CLANG_TIDY_EXE NAMES clang-tidy REQUIRED)
	set(CMAKE_C_CLANG_TIDY ${GD_CLANG_TIDY_EXE})
endif()
