from mjapi.cli import main

main()
