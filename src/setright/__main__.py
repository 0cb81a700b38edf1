from setright.entry import main

main()
