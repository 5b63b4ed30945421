#ifndef METRICS_H
#define METRICS_H
#endif
