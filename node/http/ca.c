/*
 * node/http/ca.c: the page at /ca that tells a resident how to install the
 * network's TLS authority once (Android, iOS), with its fingerprint to
 * compare with the one the station shows, and a QR code of this node's
 * address to open the app afterwards.  The QR code is drawn as SVG from
 * libqrencode's modules; nothing in the page comes from the network.
 */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

/* The QR code of text as an SVG element (one path), or NULL. */
static char *qr_svg(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int x, y;

	if (!qr)
		return NULL;
	f = open_memstream(&buf, &len);
	if (!f) {
		QRcode_free(qr);
		return NULL;
	}
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"-4 -4 %d %d\" width=\"240\" "
	           "height=\"240\" role=\"img\" aria-label=\"QR code of %s\"><rect x=\"-4\" y=\"-4\" "
	           "width=\"%d\" height=\"%d\" fill=\"#fff\"/><path d=\"",
	        qr->width + 8, qr->width + 8, text, qr->width + 8, qr->width + 8);
	for (y = 0; y < qr->width; y++)
		for (x = 0; x < qr->width; x++)
			if (qr->data[y * qr->width + x] & 1)
				fprintf(f, "M%d %dh1v1h-1z", x, y);
	fprintf(f, "\"/></svg>");
	fclose(f);
	QRcode_free(qr);
	return buf;
}

/* s with & < > " escaped for HTML (the network's name is the operator's
 * text, not markup); *out malloc'd. */
static char *html_text(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
	fclose(f);
	return buf;
}

int ca_page(struct hreq *r)
{
	struct http *h = r->h;
	const char *host = http_host(r);
	char url[320], *svg, *page = NULL, *net;
	size_t len = 0;
	FILE *f;

	if (!h->ca_pem)
		return http_error(r, MHD_HTTP_NOT_FOUND, "this node serves no TLS authority certificate");
	if (host)
		snprintf(url, sizeof url, "https://%s/", host);
	else
		snprintf(url, sizeof url, "/");
	svg = qr_svg(url);
	net = html_text(h->network_name);
	f = open_memstream(&page, &len);
	if (!f || !net) {
		if (f)
			fclose(f);
		free(page);
		free(svg);
		free(net);
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	fprintf(f,
		"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		"<title>Install the %s authority</title>"
		"<body style=\"font-family:sans-serif;max-width:36em;margin:1em auto;padding:0 1em;line-height:1.5\">"
		"<h1>Trust this network once</h1>"
		"<p>The app of the <b>%s</b> network needs a secure connection to this node. "
		"Install the network's certificate authority on your phone once; after that the "
		"app opens without warnings and works offline.</p>"
		"<p><a href=\"/ca.crt\" style=\"font-size:1.3em\">Download the authority (ca.crt)</a></p>"
		"<p>Before you install it, compare its fingerprint with the one shown at your police "
		"station or community centre:</p><p style=\"font-family:monospace;word-break:break-all\">"
		"SHA-256 %s</p>"
		"<h2>Android</h2><ol><li>Tap the download link above.</li>"
		"<li>Open <i>Settings &rarr; Security &rarr; Encryption &amp; credentials &rarr; Install a "
		"certificate &rarr; CA certificate</i> (the words differ a little between phones; search "
		"Settings for &ldquo;CA certificate&rdquo;).</li>"
		"<li>Choose the downloaded <i>ca.crt</i> and confirm.</li></ol>"
		"<h2>iPhone and iPad</h2><ol><li>Tap the download link above in Safari and allow the "
		"profile to download.</li>"
		"<li>Open <i>Settings &rarr; Profile Downloaded</i> and tap <i>Install</i>.</li>"
		"<li>Open <i>Settings &rarr; General &rarr; About &rarr; Certificate Trust Settings</i> "
		"and turn on full trust for the watchmesh authority.</li></ol>"
		"<h2>What this allows</h2><p>The authority can vouch only for this network's local "
		"names and private addresses (name constraints in the certificate), so installing it "
		"does not let anyone pretend to be your bank or any other site on the internet.</p>"
		"<h2>Then open the app</h2><p>Scan this code, or go to <b>%s</b>:</p>%s"
		"</body></html>",
		net, net, h->ca_fingerprint ? h->ca_fingerprint : "(unknown)", url, svg ? svg : "");
	fclose(f);
	free(svg);
	free(net);
	return http_answer(r, MHD_HTTP_OK, "text/html; charset=utf-8", page, len);
}
