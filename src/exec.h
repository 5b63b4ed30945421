#ifndef EXEC_H
#define EXEC_H
#endif
