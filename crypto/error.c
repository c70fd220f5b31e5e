/* The error table's strings; see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *wm_strerror(int code)
{
	switch (code) {
#define WM_ERR_MSG(name, value, msg) case value: return msg;
	WM_ERRORS(WM_ERR_MSG)
#undef WM_ERR_MSG
	}
	return "unknown error";
}

const char *wm_errname(int code)
{
	switch (code) {
#define WM_ERR_NAME(name, value, msg) case value: return #name;
	WM_ERRORS(WM_ERR_NAME)
#undef WM_ERR_NAME
	}
	return "WM_E?";
}

int wm_error_is_lasting(int code)
{
	switch (code) {
	case WM_EMALFORMED: case WM_ECANONICAL: case WM_EVERSION: case WM_ESIG:
	case WM_ECONTENT: case WM_ETOOBIG: case WM_ENOTOFFICIAL:
	case WM_EREVOKED: case WM_EFORBIDDEN: case WM_ETRUNCATED: case WM_ENOTVOUCHED:
	case WM_ENETWORK:
		return 1;
	default:
		return 0;
	}
}

void wm_whyn(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

void wm_why(char *why, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why, WM_WHY_LEN, fmt, ap);
	va_end(ap);
}
