/* A redspice server in C: one blue 1024x768 display; prints its address
 * and the keys clients press. REDSPICE_PORT picks the port (0: any free
 * one), REDSPICE_DEMO_SECONDS stops it after that many seconds.
 *
 *   cc server.c -o server $(pkg-config --cflags --libs redspice-1.0)
 */
#include <redspice.h>
#include <glib-unix.h>
#include <stdlib.h>

static void
on_key_event (RedServer *server, guint scancode, gboolean pressed, gpointer data)
{
  g_print ("key 0x%x %s\n", scancode, pressed ? "pressed" : "released");
}

static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(RedServer) server = red_server_new ();
  const char *port = g_getenv ("REDSPICE_PORT");
  const char *seconds = g_getenv ("REDSPICE_DEMO_SECONDS");
  RedDisplay *display;

  g_object_set (server, "port", port ? atoi (port) : 5930, NULL);
  display = red_server_add_display (server, 1024, 768, &error);
  if (display == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  red_display_fill (display, 0, 0, 1024, 768, 0x204a87); /* 0xRRGGBB */
  g_signal_connect (server, "key-event", G_CALLBACK (on_key_event), NULL);

  if (!red_server_start (server, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_print ("listening on spice://127.0.0.1:%u\n", red_server_get_port (server));

  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);
  if (seconds != NULL)
    g_timeout_add_seconds (atoi (seconds), quit, loop);
  /* Clients are served, and signals emitted, while the loop runs. */
  g_main_loop_run (loop);
  red_server_stop (server);
  return 0;
}
