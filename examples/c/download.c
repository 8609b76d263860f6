/* download: queue a download with the bits worker over D-Bus, print its
 * progress, wait until it is transferred and complete it.
 *
 *   cc -o download download.c $(pkg-config --cflags --libs gio-2.0)
 *   ./download URL LOCALFILE
 *
 * It needs GIO (Debian: libglib2.0-dev) and a worker on the session bus
 * (`bitsjob worker`). */
#include <gio/gio.h>
#include <stdio.h>

#define SERVICE "org.bits.Transfer1"
#define UNKNOWN G_MAXUINT64 /* BytesTotal until the server tells the size */

static GMainLoop *loop;
static const char *end; /* the signal that ended the transfer */
static GVariant *end_args; /* and its arguments */

static GDBusProxy *proxy(const char *path, const char *interface, GError **error)
{
	return g_dbus_proxy_new_for_bus_sync(G_BUS_TYPE_SESSION, G_DBUS_PROXY_FLAGS_NONE, NULL,
					     SERVICE, path, interface, NULL, error);
}

static guint64 cached_u64(GDBusProxy *job, const char *name)
{
	g_autoptr(GVariant) v = g_dbus_proxy_get_cached_property(job, name);
	return v ? g_variant_get_uint64(v) : 0;
}

static void on_properties_changed(GDBusProxy *job, GVariant *changed,
				  const char *const *invalidated, gpointer data)
{
	GVariantDict dict;
	g_variant_dict_init(&dict, changed);
	gboolean moved = g_variant_dict_contains(&dict, "BytesTransferred") ||
			 g_variant_dict_contains(&dict, "BytesTotal");
	g_variant_dict_clear(&dict);
	if (!moved)
		return;
	guint64 done = cached_u64(job, "BytesTransferred");
	guint64 total = cached_u64(job, "BytesTotal");
	if (total == UNKNOWN)
		printf("progress: %" G_GUINT64_FORMAT " bytes, size unknown\n", done);
	else
		printf("progress: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes\n", done, total);
	fflush(stdout);
}

static void on_signal(GDBusProxy *job, const char *sender, const char *signal,
		      GVariant *params, gpointer data)
{
	if (g_str_equal(signal, "JobTransferred") || g_str_equal(signal, "JobError")) {
		end = g_intern_string(signal);
		end_args = g_variant_ref(params);
		g_main_loop_quit(loop);
	}
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusProxy) manager = NULL;
	g_autoptr(GDBusProxy) job = NULL;
	g_autoptr(GVariant) created = NULL, added = NULL, resumed = NULL, cancelled = NULL, completed = NULL;
	g_autofree char *local = NULL;
	g_autofree char *path = NULL;

	if (argc != 3) {
		fprintf(stderr, "usage: download URL LOCALFILE\n");
		return 2;
	}
	local = g_canonicalize_filename(argv[2], NULL);

	manager = proxy("/org/bits/Transfer1", "org.bits.Transfer1.Manager", &error);
	if (!manager)
		goto fail;
	created = g_dbus_proxy_call_sync(manager, "CreateJob",
					 g_variant_new("(su)", "download example", 0), /* 0: download */
					 G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	if (!created)
		goto fail;
	g_variant_get(created, "(o)", &path);
	/* The job's proxy follows its properties and signals from now on, so
	 * nothing that happens after Resume is missed. */
	job = proxy(path, "org.bits.Transfer1.Job", &error);
	if (!job)
		goto fail;
	added = g_dbus_proxy_call_sync(job, "AddFile", g_variant_new("(ss)", argv[1], local),
				       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	if (!added)
		goto fail;

	g_signal_connect(job, "g-properties-changed", G_CALLBACK(on_properties_changed), NULL);
	g_signal_connect(job, "g-signal", G_CALLBACK(on_signal), NULL);
	resumed = g_dbus_proxy_call_sync(job, "Resume", NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	if (!resumed)
		goto fail;
	/* The signals wait for the loop to run. */
	loop = g_main_loop_new(NULL, FALSE);
	g_main_loop_run(loop);
	g_main_loop_unref(loop);

	if (g_str_equal(end, "JobError")) {
		guint32 code, context;
		const char *description;
		g_variant_get(end_args, "(uu&s)", &code, &context, &description);
		fprintf(stderr, "error: 0x%08x: %s\n", code, description);
		g_variant_unref(end_args);
		cancelled = g_dbus_proxy_call_sync(job, "Cancel", NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
		return 1;
	}
	g_variant_unref(end_args);
	/* The file takes its name only now. */
	completed = g_dbus_proxy_call_sync(job, "Complete", NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	if (!completed)
		goto fail;
	printf("done: %s\n", local);
	return 0;

fail:
	fprintf(stderr, "error: %s\n", error->message);
	return 1;
}
