#ifndef K8S_WATCH_H
#define K8S_WATCH_H
#endif
