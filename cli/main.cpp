#include <iostream>
int main() { std::cout << "clustercost\n"; return 0; }
