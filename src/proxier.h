#ifndef PROXIER_H
#define PROXIER_H
#endif
