/*
 * crypto/deny.h: the rooms' boundaries, enforced by the compiler.
 *
 * Every room's library is compiled with this header forced in (meson:
 * -include) and -DWM_DENY_<LIB> for each outside library the room may not
 * use (the table `rooms` in the top meson.build).  Each block poisons an
 * identifier that the library's header declares, so including sqlite3.h in
 * the mesh, or uv.h in the store, stops the build at that #include.  The
 * top meson.build checks at configure time that each block still does.
 * It lives in crypto/ because crypto/ is the bottom of the stack.
 */
#ifdef WM_DENY_SODIUM
#pragma GCC poison sodium_init
#endif
#ifdef WM_DENY_MSGPACK
#pragma GCC poison msgpack_unpack_next
#endif
#ifdef WM_DENY_SQLITE3
#pragma GCC poison sqlite3_open_v2
#endif
#ifdef WM_DENY_LIBUV
#pragma GCC poison uv_loop_init
#endif
#ifdef WM_DENY_JANSSON
#pragma GCC poison json_loads
#endif
#ifdef WM_DENY_MICROHTTPD
#pragma GCC poison MHD_start_daemon
#endif
#ifdef WM_DENY_QRENCODE
#pragma GCC poison QRcode_encodeString
#endif
#ifdef WM_DENY_GNUTLS
#pragma GCC poison gnutls_global_init
#endif
#ifdef WM_DENY_UNISTRING
#pragma GCC poison u8_tolower
#endif
