/* The error table's strings; see error.h. */
#include "error.h"

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
	case WM_EREVOKED: case WM_EFORBIDDEN: case WM_ETRUNCATED:
		return 1;
	default:
		return 0;
	}
}
