#ifndef K8S_CLIENT_H
#define K8S_CLIENT_H
#endif
