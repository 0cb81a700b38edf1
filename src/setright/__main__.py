from setright.cli import main

main()
