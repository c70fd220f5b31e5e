/*
 * node/defaults.h: the defaults of the settings an operator can change in
 * watchmesh.conf, in one place.  The config (conf.c, conf_defaults) and
 * the mesh (mesh_config_defaults, used as it is by the simulator and the
 * tests) both take them from here.
 */
#ifndef WM_DEFAULTS_H
#define WM_DEFAULTS_H

#define WM_DEFAULT_REPAIR_INTERVAL_S 60    /* s between repairs with each peer */
#define WM_DEFAULT_EAGER_PEERS 3           /* peers that get whole events at once */
#define WM_DEFAULT_PEER_RATE 200           /* events not asked for, /s from one peer */
#define WM_DEFAULT_PEER_BURST 2000
#define WM_DEFAULT_AUTHOR_RATE_PER_MIN 600 /* events not asked for, /min per author */
#define WM_DEFAULT_AUTHOR_BURST 100

#endif
