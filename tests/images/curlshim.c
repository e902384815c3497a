/* A stand-in libcurl.so.4 for the images tier (test tool): nestbox
 * dlopen()s "libcurl.so.4", so LD_LIBRARY_PATH=<dir of this shim> puts it
 * in front. It forwards every call nestbox makes to the real library and,
 * as NB_CURLSHIM says, answers curl_easy_setopt as another libcurl would:
 *   old          no CURLOPT_PROTOCOLS_STR / CURLOPT_REDIR_PROTOCOLS_STR
 *                (libcurl before 7.85: CURLE_UNKNOWN_OPTION)
 *   bare         not the bitmask CURLOPT_PROTOCOLS / REDIR_PROTOCOLS either
 *   refuse:N     option number N fails (CURLE_BAD_FUNCTION_ARGUMENT)
 * NB_CURLSHIM_LOG=FILE appends one line per setopt that the real library
 * got: "opt=N long=V" or "opt=N str=S" (strings of the protocol options).
 * NB_CURLSHIM_REAL names the real library (default: Debian's path). */
#define CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_DEPRECATION
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REAL_DEFAULT "/usr/lib/x86_64-linux-gnu/libcurl.so.4"

static void *real(const char *name)
{
	static void *lib;
	const char *path = getenv("NB_CURLSHIM_REAL");
	void *sym;

	if (!lib)
		lib = dlopen(path && *path ? path : REAL_DEFAULT, RTLD_NOW | RTLD_LOCAL);
	sym = lib ? dlsym(lib, name) : NULL;
	if (!sym) {
		fprintf(stderr, "curlshim: %s: %s\n", name, dlerror());
		abort();
	}
	return sym;
}

#define FORWARD(ret, name, params, args)             \
	ret name params                              \
	{                                            \
		static ret(*fn) params;              \
		if (!fn)                             \
			*(void **)&fn = real(#name); \
		return fn args;                      \
	}

FORWARD(CURLcode, curl_global_init, (long flags), (flags))
FORWARD(CURL *, curl_easy_init, (void), ())
FORWARD(CURLcode, curl_easy_perform, (CURL * c), (c))
FORWARD(const char *, curl_easy_strerror, (CURLcode code), (code))
FORWARD(char *, curl_easy_escape, (CURL * c, const char *s, int len), (c, s, len))
FORWARD(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s))
FORWARD(CURLSH *, curl_share_init, (void), ())
FORWARD(CURLSHcode, curl_share_cleanup, (CURLSH * s), (s))

#define FORWARD_VOID(name, params, args)             \
	void name params                             \
	{                                            \
		static void(*fn) params;             \
		if (!fn)                             \
			*(void **)&fn = real(#name); \
		fn args;                             \
	}

FORWARD_VOID(curl_easy_cleanup, (CURL * c), (c))
FORWARD_VOID(curl_free, (void *p), (p))
FORWARD_VOID(curl_slist_free_all, (struct curl_slist * l), (l))

CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	static CURLcode (*fn)(CURL *, CURLINFO, ...);
	va_list ap;
	void *p;

	if (!fn)
		*(void **)&fn = real("curl_easy_getinfo");
	va_start(ap, info);
	p = va_arg(ap, void *);
	va_end(ap);
	return fn(c, info, p);
}

/* nestbox passes CURLSHOPT_SHARE an int (curl_lock_data). */
CURLSHcode curl_share_setopt(CURLSH *sh, CURLSHoption opt, ...)
{
	static CURLSHcode (*fn)(CURLSH *, CURLSHoption, ...);
	va_list ap;
	int v;

	if (!fn)
		*(void **)&fn = real("curl_share_setopt");
	va_start(ap, opt);
	v = va_arg(ap, int);
	va_end(ap);
	return fn(sh, opt, v);
}

static int refused(CURLoption opt, CURLcode *rc)
{
	const char *mode = getenv("NB_CURLSHIM");
	bool by_name = opt == CURLOPT_PROTOCOLS_STR || opt == CURLOPT_REDIR_PROTOCOLS_STR;
	bool by_mask = opt == CURLOPT_PROTOCOLS || opt == CURLOPT_REDIR_PROTOCOLS;

	if (!mode)
		return 0;
	if ((!strcmp(mode, "old") && by_name) || (!strcmp(mode, "bare") && (by_name || by_mask))) {
		*rc = CURLE_UNKNOWN_OPTION;
		return 1;
	}
	if (!strncmp(mode, "refuse:", 7) && atoi(mode + 7) == (int)opt) {
		*rc = CURLE_BAD_FUNCTION_ARGUMENT;
		return 1;
	}
	return 0;
}

static void log_opt(CURLoption opt, const char *fmt, ...)
{
	const char *path = getenv("NB_CURLSHIM_LOG");
	FILE *f = path ? fopen(path, "a") : NULL;
	va_list ap;

	if (!f)
		return;
	fprintf(f, "opt=%d ", (int)opt);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	static CURLcode (*fn)(CURL *, CURLoption, ...);
	CURLcode rc;
	va_list ap;

	if (!fn)
		*(void **)&fn = real("curl_easy_setopt");
	if (refused(opt, &rc))
		return rc;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT) {
		long v = va_arg(ap, long);
		log_opt(opt, "long=%ld", v);
		rc = fn(c, opt, v);
	} else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB) {
		curl_off_t v = va_arg(ap, curl_off_t);
		log_opt(opt, "off=%lld", (long long)v);
		rc = fn(c, opt, v);
	} else {
		void *v = va_arg(ap, void *);
		if (opt == CURLOPT_PROTOCOLS_STR || opt == CURLOPT_REDIR_PROTOCOLS_STR)
			log_opt(opt, "str=%s", (const char *)v);
		else
			log_opt(opt, "ptr");
		rc = fn(c, opt, v);
	}
	va_end(ap);
	return rc;
}
